"""`python -m nsinspect.agent.server`: see main.py."""

import sys

from .main import main

sys.exit(main())
