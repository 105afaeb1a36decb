from guestwall.cli.app import main

main()
