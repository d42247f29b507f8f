from endorsements.sandbox.server import main

main()
