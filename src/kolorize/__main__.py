from kolorize.cli import main

main()
