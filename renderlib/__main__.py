import sys

from renderlib.cli import main

sys.exit(main())
