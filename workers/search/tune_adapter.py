"""The one place that reaches into private attributes of Ray Tune and Optuna objects.

The search needs a few things neither library offers in public: a restored ``Tuner`` whose run
config holds live callbacks and stopper again, and the scheduler it restored; the Optuna trial and
study behind Ray's ``OptunaSearch`` (to tell Optuna of a repeated point without training it, and to
mark a trial infeasible); and ASHA's rung records (kept on disk across a resume, ``rungs``). Each
need is one small function here, written against the versions installed when it was written:
**Ray 2.60.0** and **Optuna 5.0.0**. ``tests/workers/search/test_tune_adapter.py`` drives every
function against the real installed libraries, so that an upgrade that moves these internals fails
there, by name, rather than deep inside a search; ``tests/test_architecture.py`` fails when any
other module of ``workers`` names a private Ray or Optuna attribute."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ray.tune.search import ConcurrencyLimiter, Searcher, SearchGenerator

if TYPE_CHECKING:
    import optuna
    from ray.tune import Callback, ResultGrid, Tuner
    from ray.tune.impl.tuner_internal import TunerInternal
    from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler
    from ray.tune.search.optuna import OptunaSearch
    from ray.tune.stopper import Stopper

Rungs = list[tuple[float, dict[str, float]]]  # one ASHA bracket's rungs: (milestone, trial id → value)


# Tuner (Ray 2.60.0: ``Tuner._local_tuner`` is the ``TunerInternal`` that ``fit`` runs, absent with
# Ray Client; ``TunerInternal._run_config`` is what ``fit`` passes to ``tune.run``, and
# ``TunerInternal._tune_config`` holds the scheduler that ``Tuner.restore`` unpickled)


def _local_tuner(tuner: Tuner) -> TunerInternal:
    internal = getattr(tuner, "_local_tuner", None)
    if internal is None:
        raise RuntimeError(
            "a Tuner run through Ray Client (a ray:// address) cannot be resumed with live callbacks"
        )
    return internal


def reattach_run_config(tuner: Tuner, callbacks: Sequence[Callback], stop: Stopper) -> None:
    """Give a restored ``tuner`` live ``callbacks`` and ``stop`` in place of the pickled copies
    ``Tuner.restore`` brings back (``Tuner.restore`` takes neither), keeping the rest of its run
    config (name, storage, failure and checkpoint settings). Relies on Ray 2.60.0's
    ``Tuner._local_tuner`` and ``TunerInternal._run_config`` (read through its public
    ``get_run_config``)."""
    internal = _local_tuner(tuner)
    internal._run_config = replace(internal.get_run_config(), callbacks=list(callbacks), stop=stop)


def restored_scheduler(tuner: Tuner) -> TrialScheduler:
    """The scheduler ``tuner`` will run with: for a restored one, the scheduler pickled when the
    search began (its rung records as they were then: Tune saves no scheduler state). Relies on
    Ray 2.60.0's ``Tuner._local_tuner`` and ``TunerInternal._tune_config``."""
    return _local_tuner(tuner)._tune_config.scheduler


# SearchGenerator (Ray 2.60.0: ``SearchGenerator._total_samples`` is how many trials it creates,
# ``_finished`` whether its searcher said FINISHED; both come back from the experiment's state in
# ``set_state`` when a search is restored, so a restored search would keep its old count)


class ExtensibleSearchGenerator(SearchGenerator):
    """Ray's ``SearchGenerator`` whose trial count a restored search may raise (``total_at_least``,
    set by ``extend_restored_search``): a finished job given more budget goes on with the same
    searcher, scheduler and weights instead of stopping at the count it started with, and a search
    its trial-epoch budget stopped (Tune then marks the generator finished) goes on when that budget
    was raised."""

    def __init__(self, searcher: Searcher) -> None:
        super().__init__(searcher)
        self.total_at_least = 0
        self.ended: set[str] = set()  # the restored trials that ended (TERMINATED)
        # results measured without this search, told to its searcher (``tell_known``)
        self.known: Any = None

    def tell_known(self, known: Any) -> None:
        """Tell the searcher ``known`` now, and again when the search is restored (its restored
        searcher then learns the ones it was not told before). ``known``: anything with a
        ``tell(searcher)`` (``workers.search.searchers.KnownResults``); None: nothing."""
        self.known = known
        if known is not None:
            known.tell(self.searcher)

    def set_state(self, state: dict) -> None:
        """Called last when Tune restores the search (after its wrappers' and base's states)."""
        super().set_state(state)
        known = getattr(self, "known", None)  # a generator pickled before it had one: None
        if known is not None:
            known.tell(self.searcher)
        if not self.total_at_least:
            return
        # restored to go on: the stopper (trial-epoch budget) decides again
        self._total_samples = max(self._total_samples, self.total_at_least)
        self._finished = False
        # trials the budget's stop ended were never completed to ``ConcurrencyLimiter``
        # (``stop_all`` stops them without ``on_trial_complete``): still counted live, they
        # would hold every slot of the limiter and no new trial would start
        searcher: Any = self.searcher
        while searcher is not None:
            if isinstance(searcher, ConcurrencyLimiter):
                stale = searcher.live_trials & self.ended
                searcher.live_trials -= stale
                searcher.num_unfinished_live_trials -= len(stale)
            searcher = getattr(searcher, "searcher", None)


def extend_restored_search(tuner: Tuner, total_trials: int, restored: ResultGrid, known: Any = None) -> None:
    """Let restored ``tuner`` (its results so far: ``restored``) create trials up to
    ``total_trials`` in all (never fewer than it had) and go on where its trial-epoch budget
    stopped it; its searcher, once restored, is told ``known`` (``ExtensibleSearchGenerator.
    tell_known``). Relies on Ray 2.60.0's ``ResultGrid._experiment_analysis.trials`` (the restored
    ``Trial`` objects, with their status). ``RuntimeError`` for a search saved before its
    generator could be extended."""
    from ray.tune.experiment import Trial

    search = _local_tuner(tuner)._tune_config.search_alg
    if not isinstance(search, ExtensibleSearchGenerator):
        raise RuntimeError("this search was saved by an older Scaler: its trial budget cannot be raised")
    search.total_at_least = total_trials
    search.known = known
    search.ended = {
        trial.trial_id for trial in restored._experiment_analysis.trials if trial.status == Trial.TERMINATED
    }


# OptunaSearch (Ray 2.60.0: ``OptunaSearch._ot_study`` is the ``optuna.Study`` it asks and tells;
# ``OptunaSearch._ot_trials`` maps a Tune trial id to the ``optuna.trial.Trial`` asked for it, and
# is what ``on_trial_complete`` tells the study about; Optuna 5.0.0's ``Study.ask``/``Study.tell``)


def optuna_study(searcher: OptunaSearch) -> optuna.Study:
    """The Optuna study behind Ray's ``searcher`` (None before Ray set up its space and metric)."""
    return searcher._ot_study


def optuna_trial(searcher: OptunaSearch, trial_id: str) -> optuna.trial.Trial | None:
    """The Optuna trial ``searcher`` asked its study for Tune's ``trial_id`` (its ``params`` the
    point suggested), while Ray holds it; None when it holds none."""
    return searcher._ot_trials.get(trial_id)


def first_generation(sampler: optuna.samplers.BaseSampler) -> dict[str, Any]:
    """The system attributes that place a trial added to a study (``Study.add_trial``) in the first
    generation of ``sampler`` when it is a genetic one (NSGA-II: its parents are drawn from its
    generations' populations, which it reads by this attribute, Optuna 5.0.0's
    ``BaseGASampler._get_generation_key``); none for any other sampler, which reads every trial."""
    from optuna.samplers import BaseGASampler

    return {sampler._get_generation_key(): 0} if isinstance(sampler, BaseGASampler) else {}


def take_optuna_trial(searcher: OptunaSearch, trial_id: str) -> optuna.trial.Trial:
    """The Optuna trial of ``trial_id``, taken out of ``searcher``'s hands: the caller tells the
    study of it (``optuna_study(searcher).tell``) and a later ``suggest(trial_id)`` asks the study
    for a new trial. KeyError when ``searcher`` holds none for ``trial_id``."""
    return searcher._ot_trials.pop(trial_id)


# ASHA (Ray 2.60.0's ``AsyncHyperBandScheduler``, alias ``ASHAScheduler``: ``_brackets`` is a list
# of ``_Bracket``, each with ``_rungs``, a list of (milestone, {trial id: value × metric sign});
# ``_trial_info`` maps a trial id to its bracket; ``_num_stopped`` counts the trials it stopped)


def asha_rungs(scheduler: AsyncHyperBandScheduler) -> list[Rungs]:
    """Per bracket of ``scheduler``, its rungs: Ray's own records, to read (not to change)."""
    return [bracket._rungs for bracket in scheduler._brackets]


def set_asha_rungs(
    scheduler: AsyncHyperBandScheduler, brackets: Iterable[Iterable[tuple[float, Mapping[str, float]]]]
) -> None:
    """Replace ``scheduler``'s rung records with ``brackets`` (per bracket, its rungs as
    (milestone, {trial id: value}) pairs; JSON's two-item lists do too); brackets beyond those
    given keep their records."""
    for bracket, rungs in zip(scheduler._brackets, brackets, strict=False):
        bracket._rungs = [(milestone, dict(recorded)) for milestone, recorded in rungs]


def asha_stopped_count(scheduler: AsyncHyperBandScheduler) -> int:
    """How many trials ``scheduler`` has stopped at a rung."""
    return scheduler._num_stopped


def set_asha_stopped_count(scheduler: AsyncHyperBandScheduler, count: int) -> None:
    scheduler._num_stopped = count


def forget_asha_trial(scheduler: AsyncHyperBandScheduler, trial_id: str) -> None:
    """Drop ``scheduler``'s note of which bracket ``trial_id`` runs in, as its own
    ``on_trial_complete`` does, without recording the trial's result at any rung."""
    scheduler._trial_info.pop(trial_id, None)
