"""The speed layer under IQL's update: flat parameters, Adam written out, compiled halves, threads.

An algorithm file states its update as :class:`Half` objects: a loss over named networks, the
networks Adam trains on it, the ones it only reads, and an optional Polyak target. Every loss
reads the networks as they were before the update, so the halves share no writes and may run in
any order or at once. :class:`SplitUpdate` then runs them:

* each network's parameters are one flat tensor (:class:`FlatParams`): an Adam step or a Polyak
  update is one kernel, and a compiled graph has a handful of inputs;
* each half is one pure function (``torch.func`` gradients, :func:`adam_step`), which
  ``torch.compile`` (after ``compile_after`` eager updates) turns into one C++ graph that
  releases the GIL, so ``threads=2`` runs two halves at once;
* a network that one half writes and another reads is written out of place and copied in once
  every half has finished;
* a module that several halves call is cloned per half: ``functional_call`` swaps a module's
  parameters in and out while it runs, so two threads calling one module would see each other's.

The eager path (``compile=False``, one thread) is the plain computation: autograd gradients and
``torch.optim.Adam``'s maths, step by step. ``test/test_fast_update.py`` checks the layer against
``torch.optim.Adam`` and a module-based update, and the compiled and threaded paths against it.
docs/learner_speed.md has the measurements.
"""
from __future__ import annotations

import copy
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad_and_value

Loss = Callable[..., tuple[torch.Tensor, torch.Tensor]]  # loss(nets, *batch) -> (loss, detached metrics)


class FlatParams:
    """A module's parameters laid end to end in one flat tensor, the parameters views into it.

    :meth:`views` rebuilds the named parameters from any flat tensor of the same layout, for
    ``torch.func.functional_call``. Loading a state dict into the module writes the flat tensor.
    """

    def __init__(self, module: nn.Module) -> None:
        named = list(module.named_parameters())
        self.names = [name for name, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.flat = torch.cat([p.detach().reshape(-1) for _, p in named])
        for (_, p), view in zip(named, self.views(self.flat).values()):
            p.data = view

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: part.view(shape) for name, part, shape in zip(self.names, flat.split(self.sizes), self.shapes)}


def adam_state(param: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fresh Adam moments and step count for one (flat) parameter tensor."""
    return {"step": torch.zeros(()), "exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}


def adam_step(param: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor], lr: float,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> torch.Tensor:
    """One step of ``torch.optim.Adam``'s maths (no weight decay): the moments and step count are
    updated in place, the new parameters returned, so a caller may keep the old ones readable."""
    beta1, beta2 = betas
    step = state["step"].add_(1.0)
    exp_avg = state["exp_avg"].lerp_(grad, 1.0 - beta1)
    exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    denom = (exp_avg_sq.sqrt() / (1.0 - beta2 ** step).sqrt()).add_(eps)
    return param - (lr / (1.0 - beta1 ** step)) * exp_avg / denom


def grads_and_aux(loss_fn: Loss, *params: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Gradients of ``loss_fn(*params) -> (loss, aux)`` with respect to ``params``, and ``aux``.

    Under ``torch.compile`` through ``torch.func`` (the gradients become part of one graph);
    eagerly through plain autograd, whose per-op overhead is a fraction of ``torch.func``'s.
    """
    if torch.compiler.is_compiling():
        grads, (_, aux) = grad_and_value(loss_fn, argnums=tuple(range(len(params))), has_aux=True)(*params)
        return grads, aux
    leaves = [p.detach().requires_grad_() for p in params]
    with torch.enable_grad():
        loss, aux = loss_fn(*leaves)
        return torch.autograd.grad(loss, leaves), aux


def bind(module: nn.Module, params: dict[str, torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``module``'s forward with ``params`` in place of its own."""
    def call(*args: torch.Tensor) -> torch.Tensor:
        return functional_call(module, params, args)
    return call


class Networks:
    """What a loss sees: ``nets.value(obs)`` runs the network ``value`` with the parameters of this update."""

    def __init__(self, calls: Mapping[str, Callable[..., torch.Tensor]]) -> None:
        for name, call in calls.items():
            setattr(self, name, call)


@dataclass(frozen=True)
class Half:
    """One independent part of an update: ``loss(nets, *batch)``, one Adam step on each network in
    ``trains``, then, with ``polyak=(target, source)``, ``target <- lerp(target, source, tau)``.
    ``nets`` holds ``trains``, ``reads`` and nothing else, so an undeclared read fails loudly."""

    loss: Loss
    trains: tuple[str, ...]
    reads: tuple[str, ...] = ()
    polyak: tuple[str, str] | None = None

    def writes(self) -> tuple[str, ...]:
        return self.trains + ((self.polyak[0],) if self.polyak else ())


class SplitUpdate:
    """Runs an update's halves with one flat Adam per trained network; see the module docstring.

    ``networks`` are the learner's modules by name (their parameters become views into flat
    tensors here). Calling it with the batch tensors returns each half's metrics.
    """

    def __init__(self, networks: Mapping[str, nn.Module], halves: Sequence[Half], lr: float, tau: float,
                 compile: bool, compile_after: int, owner: str) -> None:
        self.modules, self.halves, self.lr, self.tau, self.owner = dict(networks), tuple(halves), lr, tau, owner
        self._check_halves()
        self.flat = {name: FlatParams(module) for name, module in self.modules.items()}
        trained = {name for half in self.halves for name in half.trains}
        self.adam = {name: adam_state(self.flat[name].flat) for name in self.modules if name in trained}
        self._out_of_place = {name for half in self.halves for name in half.writes()
                              if any(name in other.reads for other in self.halves if other is not half)}
        self._half_modules = self._modules_per_half()
        self._functions: tuple[Callable[..., Any], ...] = tuple(self._half_function(i) for i in range(len(self.halves)))
        self.compiles, self.compile_after = compile, compile_after
        self.compiled: dict[tuple[Any, ...], tuple[Callable[..., Any], ...]] = {}  # per state, see _compile_state
        self.updates = 0
        self._pool: ThreadPoolExecutor | None = None

    def _check_halves(self) -> None:
        written: set[str] = set()
        for half in self.halves:
            named = set(half.trains) | set(half.reads) | set(half.writes())
            if unknown := named - set(self.modules):
                raise ValueError(f"{self.owner}: a half names unknown networks {sorted(unknown)}")
            if half.polyak and half.polyak[1] not in half.trains:
                raise ValueError(f"{self.owner}: Polyak source {half.polyak[1]!r} is not trained by its half")
            if twice := written & set(half.writes()):
                raise ValueError(f"{self.owner}: networks {sorted(twice)} are written by two halves")
            written |= set(half.writes())

    def _modules_per_half(self) -> list[dict[str, nn.Module]]:
        """The modules each half calls: the learner's own, or a clone where an earlier half calls it too."""
        called: set[str] = set()
        per_half = []
        for half in self.halves:
            names = set(half.trains) | set(half.reads)
            per_half.append({name: copy.deepcopy(self.modules[name]) if name in called else self.modules[name]
                             for name in names})
            called |= names
        return per_half

    def _networks(self, modules: Mapping[str, nn.Module], params: Mapping[str, torch.Tensor]) -> Networks:
        return Networks({name: bind(modules[name], self.flat[name].views(tensor))
                         for name, tensor in params.items()})

    def _half_function(self, index: int) -> Callable[..., Any]:
        """Half ``index`` as a plain function of tensors: what ``torch.compile`` compiles."""
        def run(params: dict[str, torch.Tensor], adam: dict[str, dict[str, torch.Tensor]],
                batch: tuple[torch.Tensor, ...]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
            return self._run_half(index, params, adam, batch)
        return run

    def _run_half(self, index: int, params: dict[str, torch.Tensor], adam: dict[str, dict[str, torch.Tensor]],
                  batch: tuple[torch.Tensor, ...]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One half as a pure function of tensors: networks written in place, or returned when
        another half reads them. Returns those and the half's metrics."""
        half, modules = self.halves[index], self._half_modules[index]

        def loss(*trained: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            visible = {name: params[name] for name in half.reads} | dict(zip(half.trains, trained))
            return half.loss(self._networks(modules, visible), *batch)

        grads, metrics = grads_and_aux(loss, *(params[name] for name in half.trains))
        new: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for name, grad in zip(half.trains, grads):
                self._write(name, adam_step(params[name], grad, adam[name], self.lr), params, new)
            if half.polyak:
                target, source = half.polyak
                self._write(target, torch.lerp(params[target], new.get(source, params[source]), self.tau), params, new)
        return new, metrics

    def _write(self, name: str, value: torch.Tensor, params: dict[str, torch.Tensor],
               new: dict[str, torch.Tensor]) -> None:
        if name in self._out_of_place:
            new[name] = value
        else:
            params[name].copy_(value)

    def __call__(self, batch: Sequence[torch.Tensor], threads: int = 1) -> list[torch.Tensor]:
        """One update on ``batch`` (contiguous float32 tensors); ``threads=2`` runs the first half
        on a worker thread while this one runs the rest. Returns each half's metrics."""
        batch = tuple(batch)
        if self.compiles and self.updates >= self.compile_after:
            outputs = self._run_compiled(batch, threaded=threads == 2)
        else:
            outputs = self._run(self._functions, batch, threaded=threads == 2)
        for new, _ in outputs:
            for name, tensor in new.items():
                self.flat[name].flat.copy_(tensor)
        self.updates += 1
        return [metrics for _, metrics in outputs]

    def _run(self, functions: Sequence[Callable[..., Any]], batch: tuple[torch.Tensor, ...],
             threaded: bool) -> list[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        params = {name: flat.flat for name, flat in self.flat.items()}

        def call(function: Callable[..., Any], half: Half) -> Any:
            names = half.trains + half.reads + ((half.polyak[0],) if half.polyak else ())
            return function({name: params[name] for name in dict.fromkeys(names)},
                            {name: self.adam[name] for name in half.trains}, batch)

        if not threaded or len(functions) == 1:
            return [call(f, half) for f, half in zip(functions, self.halves)]
        self._pool = self._pool or ThreadPoolExecutor(len(self.halves) - 1, thread_name_prefix="update-half")
        pending = [self._pool.submit(call, f, half) for f, half in zip(functions[:-1], self.halves[:-1])]
        last = call(functions[-1], self.halves[-1])
        return [p.result() for p in pending] + [last]

    def _run_compiled(self, batch: tuple[torch.Tensor, ...], threaded: bool) -> list[Any]:
        """The halves compiled for this batch's state. One ``torch.compile`` per state holds one
        graph, so its guards can be skipped: they would only re-check what cannot change (dtypes,
        strides and layouts are the caller's contract) and cost ~0.1 ms a call. (With several states
        in one compiled function, the guard-skipping stance refused calls after a state change.)"""
        state = self._compile_state(batch)
        if state not in self.compiled:
            return self._compile_and_run(state, batch)
        with torch.compiler.set_stance("default", skip_guard_eval_unsafe=True):
            return self._run(self.compiled[state], batch, threaded)

    def _compile_and_run(self, state: tuple[Any, ...], batch: tuple[torch.Tensor, ...]) -> list[Any]:
        """Compile every half (on this thread) and run them; if compiling fails, warn and stay eager."""
        # C++ wrapper: no Python, and no GIL, inside a graph. Isolated: each compile's graphs are
        # its own (the functions' code is shared by every SplitUpdate, and so would be its cache).
        compiled = tuple(torch.compile(f, fullgraph=True, dynamic=False, isolate_recompiles=True,
                                       options={"cpp_wrapper": True}) for f in self._functions)
        try:
            outputs = self._run(compiled, batch, threaded=False)
        except Exception as error:  # noqa: BLE001 - the same halves ran eagerly before: compiling failed
            warnings.warn(f"{self.owner}: torch.compile failed ({type(error).__name__}: {error}); updating "
                          f"eagerly. Set compile: false to skip the attempt.", RuntimeWarning, stacklevel=4)
            self.compiles = False
            return self._run(self._functions, batch, threaded=False)
        self.compiled[state] = compiled
        return outputs

    @staticmethod
    def _compile_state(batch: tuple[torch.Tensor, ...]) -> tuple[Any, ...]:
        """What a compiled graph depends on besides fixed dtypes and layouts: the batch shapes and the
        global state dynamo guards (torch threads are baked into the kernels, grad mode)."""
        return tuple(t.shape for t in batch), torch.get_num_threads(), torch.is_grad_enabled()

    def load_adam(self, state: Mapping[str, Any], torch_adam_order: Sequence[str]) -> None:
        """Load Adam moments saved by :attr:`adam`, or a ``torch.optim.Adam`` state dict whose one
        parameter group held the networks ``torch_adam_order`` in turn (module order within each)."""
        if "param_groups" in state:
            state = self._from_torch_adam(state, torch_adam_order)
        for name, adam in self.adam.items():
            for key, tensor in adam.items():
                tensor.copy_(state[name][key])

    def _from_torch_adam(self, optimizer: Mapping[str, Any],
                         order: Sequence[str]) -> dict[str, dict[str, torch.Tensor]]:
        per_param = [optimizer["state"][i] for i in optimizer["param_groups"][0]["params"]]
        converted, start = {}, 0
        for name in order:
            count = len(self.flat[name].names)
            own = per_param[start:start + count]
            start += count
            converted[name] = {"step": torch.as_tensor(own[0]["step"], dtype=torch.float32),
                               **{key: torch.cat([s[key].reshape(-1) for s in own])
                                  for key in ("exp_avg", "exp_avg_sq")}}
        return converted
