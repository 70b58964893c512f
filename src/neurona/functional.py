"""Every differentiable operation as a function (``neurona.functional``, alias ``F``).

Names and argument order follow ``torch`` / ``torch.nn.functional``. The implementations
live in ``neurona/ops/``, one file per family, each op's forward and backward together.
"""

from .ops.arith import *  # noqa: F401,F403
from .ops.unary import *  # noqa: F401,F403
from .ops.reduce import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.select import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.conv import *  # noqa: F401,F403
from .ops.pool import *  # noqa: F401,F403
from .ops.dropout import *  # noqa: F401,F403
from .ops.loss import *  # noqa: F401,F403
