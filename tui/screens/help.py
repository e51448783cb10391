"""`?`: the keys of the screen it was opened over (with the ids a keymap file uses), the
app's keys, and a glossary of the playbook's terms (PB-8, PB-9, PB-15, PB-32)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Markdown, Static

from tunebook.tui.keymap import keymap_path
from tunebook.tui.widgets.key_footer import KeyFooter

GLOSSARY = """\
## Glossary

**Scientific hyperparameter**: the one whose effect an experiment measures (PB-8), e.g.
the depth of the model when the goal is "does a deeper model help?".

**Nuisance hyperparameter**: one that must be tuned away so the scientific values are
compared fairly, each at its best (PB-8): usually the learning rate and the optimizer's
other settings.

**Fixed hyperparameter**: held at one value for the whole experiment (PB-8); the
conclusion holds only for that value, so fixed values are the conclusion's caveats.

**Study**: a search space, a search algorithm, a trial budget and a seed (PB-9). By
default an experiment has one study per scientific value, each tuning the nuisance
hyperparameters.

**Trial**: one training run with one point of the search space; its objective is the best
validation value reached during training (PB-12, PB-23).

**Infeasible trial**: a trial that diverged (a non-finite loss or gradient). It is a
result, kept and plotted as ✗, not an error; a *failed* trial is one whose program broke.

**Isolation plot**: for each scientific value, the best trial over the nuisance
hyperparameters: an apples-to-apples comparison (PB-15).

**Launch**: a configuration adopted as the new baseline, with the evidence for it (PB-5,
PB-17).

**Why "hyperparameter" is an abuse of terms** (PB-32): in Bayesian statistics a
hyperparameter is a parameter of a prior. What we tune here are the settings of the
learning algorithm (*metaparameters*); the playbook keeps the common word, and so does
tunebook. Batch size is one of them, but it sets training *speed*, not validation
performance, so it is decided once and not tuned (PB-3).
"""


def binding_rows(screen: Screen) -> list[tuple[str, str, str]]:
    """(keys, description, id) of `screen`'s bindings, then the app's, then the command
    palette's (which a narrow key bar leaves out)."""
    rows = []
    for owner in (screen, screen.app):
        for binding in owner.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                keys = binding.key_display or binding.key
                rows.append((keys, binding.description, binding.id or ""))
    if screen.app.ENABLE_COMMAND_PALETTE:
        rows.append((screen.app.COMMAND_PALETTE_BINDING, "Command palette", ""))
    return rows


class HelpScreen(ModalScreen[None]):
    """Keys and glossary; escape or ? closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss_help", "Close", id="help.close")]

    def __init__(self, over: Screen) -> None:
        super().__init__()
        self._over = over

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Text("Keys on this screen", style="bold"))
            yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)
            yield Static(
                Text(f"Remap any key by its id in {keymap_path()}: [keymap] \"id\" = \"keys\""),
                id="keymap-hint",
            )
            yield Markdown(GLOSSARY, id="glossary")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        table.add_columns("key", "does", "id")
        for keys, description, binding_id in binding_rows(self._over):
            table.add_row(Text(keys), Text(description), Text(binding_id))

    def action_dismiss_help(self) -> None:
        """Close help."""
        self.dismiss(None)


