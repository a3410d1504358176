import sys

from ops.backup.cli import main

sys.exit(main())
