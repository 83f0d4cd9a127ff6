"""One error hierarchy: everything the pipeline raises on bad input derives from FrontlineError.

Every message names the bad value and the reason, so the CLI can print it as one line.
"""

from __future__ import annotations

from collections.abc import Sequence


class FrontlineError(Exception):
    """Base of every error the pipeline raises on bad input or bad data."""

    exit_code: int = 2


class InputError(FrontlineError, ValueError):
    """A value given by the user (date, claimant, side, option) is not acceptable."""


class SettingsError(InputError):
    """An environment variable holds a value its setting cannot take (named in the message)."""


class PlaceNotFoundError(FrontlineError, LookupError):
    """A name matched no place; carries the closest candidates as suggestions.

    Parameters
    ----------
    name : str
        The name as given.
    suggestions : sequence of str
        Closest known names, best first (may be empty).
    region : str, optional
        The region context the name was looked up in.
    """

    def __init__(
        self, name: str, suggestions: Sequence[str] = (), region: str | None = None
    ) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        self.region = region
        where = f" in region {region!r}" if region else ""
        label = "found elsewhere" if region else "closest"
        hint = f"; {label}: {', '.join(self.suggestions)}" if self.suggestions else ""
        super().__init__(f"unknown place {name!r}{where}{hint}")


class AmbiguousPlaceError(FrontlineError, LookupError):
    """A name matched several places equally well and no context separated them.

    Parameters
    ----------
    name : str
        The name as given.
    candidates : sequence of str
        Human-readable descriptions of the tied candidates, best first.
    regions : sequence of str, optional
        The candidates' regions (ISO 3166-2 ids), best first: the hint names these, never
        a region none of them is in.
    """

    exit_code = 3

    def __init__(self, name: str, candidates: Sequence[str], regions: Sequence[str] = ()) -> None:
        self.name = name
        self.candidates = list(candidates)
        self.regions = list(dict.fromkeys(r for r in regions if r))
        if len(self.regions) > 1:
            hint = (
                f"add a region: one of {', '.join(self.regions)}, e.g. '{name}, {self.regions[0]}'"
            )
        elif self.regions:
            hint = f"all lie in {self.regions[0]}: choose among the ranked candidates"
        else:
            hint = "add a region"
        super().__init__(
            f"ambiguous place {name!r}: {len(self.candidates)} candidates "
            f"({'; '.join(self.candidates[:5])}); {hint}"
        )


class DataError(FrontlineError):
    """A data file (claims, places, boundaries) is malformed.

    Parameters
    ----------
    source : str
        The file or table the problems were found in.
    problems : sequence of str
        One message per problem, each naming the row and the bad value.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        head = f"{source}: {len(self.problems)} problem(s)"
        super().__init__(head + "".join(f"\n  - {p}" for p in self.problems))


class CRSError(FrontlineError, ValueError):
    """A frame has no CRS, or not the one an operation needs."""
