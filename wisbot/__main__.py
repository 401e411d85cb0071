from wisbot.cli import main

main()
