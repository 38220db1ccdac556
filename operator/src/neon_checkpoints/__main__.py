import sys

from neon_checkpoints.cli.main import main

sys.exit(main())
