import sys

from gitstore.cli.main import main

sys.exit(main())
