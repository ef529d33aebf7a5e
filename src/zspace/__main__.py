import sys

from zspace.cli import main

sys.exit(main())
