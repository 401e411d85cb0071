"""wisbot: the WIS IT-security incident process and GISC Watch, in closed chat rooms."""

__version__ = "0.1.0"
