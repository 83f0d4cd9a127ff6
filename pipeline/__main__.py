"""Entry point of ``python -m pipeline``."""

import sys

from pipeline.errors import SettingsError

try:
    from pipeline.cli import main
except SettingsError as e:  # a bad FRONTLINE_* variable, read as pipeline.settings loads
    print(f"frontline: error: {e}", file=sys.stderr)
    raise SystemExit(e.exit_code) from None

raise SystemExit(main())
