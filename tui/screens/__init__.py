"""The app's screens, one per file, named after the playbook step they serve."""

from __future__ import annotations

from textual.screen import Screen


def screen_classes() -> list[type[Screen]]:
    """Every screen class of the app (the keymap may name any of their bindings)."""
    from tunebook.tui.screens.adoption import AdoptionScreen
    from tunebook.tui.screens.confirm import ConfirmScreen
    from tunebook.tui.screens.designer import AddedScreen, DesignerScreen
    from tunebook.tui.screens.experiments import ExperimentsScreen
    from tunebook.tui.screens.exploitation import ExploitationScreen
    from tunebook.tui.screens.final_test import FinalTestScreen
    from tunebook.tui.screens.help import HelpScreen
    from tunebook.tui.screens.home import HomeScreen
    from tunebook.tui.screens.launches import LaunchesScreen
    from tunebook.tui.screens.new_session import NewSessionScreen
    from tunebook.tui.screens.project_start import PROJECT_SCREENS
    from tunebook.tui.screens.promotion import PromotionScreen
    from tunebook.tui.screens.review import NoteScreen, ReviewScreen
    from tunebook.tui.screens.run_monitor import RunMonitorScreen
    from tunebook.tui.screens.run_options import RunOptionsScreen
    from tunebook.tui.screens.session_map import SessionMapScreen
    from tunebook.tui.screens.trial_detail import TrialDetailScreen

    return [
        HomeScreen,
        NewSessionScreen,
        SessionMapScreen,
        *PROJECT_SCREENS.values(),
        RunMonitorScreen,
        RunOptionsScreen,
        ExperimentsScreen,
        DesignerScreen,
        AddedScreen,
        TrialDetailScreen,
        ReviewScreen,
        NoteScreen,
        AdoptionScreen,
        LaunchesScreen,
        ExploitationScreen,
        PromotionScreen,
        FinalTestScreen,
        HelpScreen,
        ConfirmScreen,
    ]
