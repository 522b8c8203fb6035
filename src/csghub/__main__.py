import sys

if sys.argv[1:2] == ["hook"]:
    # git runs this for every push: skip the command-line app and its imports (cli/hooks.py).
    from csghub.cli.hooks import main as run_hook

    sys.exit(run_hook(sys.argv[2:]))

from csghub.cli.main import main

main()
