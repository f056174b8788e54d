"""UTM tagging of links to the library network's own sites.

``utm_source`` is the platform (the account's ``utm_source``, else its name),
``utm_medium`` is ``social`` (configurable), ``utm_campaign`` comes from the post
(``campaign:``), else its series, else its id. Links to other sites are left alone, and
a link that already carries UTM parameters keeps them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field


class LinksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    # The library's own sites: each domain and its subdomains are tagged.
    utm_domains: tuple[str, ...] = ()
    utm_medium: str = "social"
    """The utm_medium of tagged links."""
    # Per account, when the account's name is not the platform's (e.g. "fb-bibliobus").
    utm_sources: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LinkTagger:
    config: LinksConfig

    def is_own(self, link: str) -> bool:
        host = (urlsplit(link).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.config.utm_domains)

    def tag(self, link: str | None, *, account: str, campaign: str | None) -> str | None:
        if link is None or not self.is_own(link):
            return link
        parts = urlsplit(link)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if any(key.startswith("utm_") for key, _ in query):
            return link  # tagged by hand: the author knows best
        query += [
            ("utm_source", self.config.utm_sources.get(account, account)),
            ("utm_medium", self.config.utm_medium),
        ]
        if campaign:
            query.append(("utm_campaign", campaign_slug(campaign)))
        return urlunsplit(parts._replace(query=urlencode(query)))


# Letters NFKD does not take apart: written out the way French and German spell them.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})


def campaign_slug(text: str) -> str:
    """``Printemps des poètes 2027`` -> ``printemps-des-poetes-2027``: accents dropped
    (NFKD, then the combining marks removed), ligatures written out, the rest dashes."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:100]
