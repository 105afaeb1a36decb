from guestwall.cli.remote import main

main()
