"""How the experiments hand ``jsrl_sim``'s envs and guide factories to the core, which never imports
the simulators: as strings made from the imported objects. A config stays plain data (it travels to
worker processes, result JSON and checkpoints), and a renamed factory fails here, at import."""
from __future__ import annotations

from typing import Callable

import jsrl_sim


def qualified_env_id(env_id: str) -> str:
    """gymnasium's module-qualified id (``jsrl_sim:jsrl/Grasp-v0``): whichever process makes the env
    (a sweep worker, ``jsrl evaluate`` on a saved config) imports jsrl_sim first, which registers it."""
    return f"{jsrl_sim.__name__}:{env_id}"


def factory_target(factory: Callable[..., object]) -> str:
    """``package.module:factory``, how a scripted ``GuideSpec`` names the function that builds its guide."""
    return f"{factory.__module__}:{factory.__qualname__}"
