"""``python -m bayesgmm``: the command line (see :mod:`bayesgmm.cli`)."""

from bayesgmm.cli import main

raise SystemExit(main())
