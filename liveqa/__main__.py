from liveqa.cli import main

main()
