"""Chat surfaces. Each turns platform input into an Invocation and renders Replies."""
