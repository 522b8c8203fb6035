from csghub.cli.main import main

main()
