"""Modèles des requêtes OpenAI relayées (validation minimale, champs inconnus conservés).

Le moteur valide le reste (outils, `response_format`, `logprobs`, `n`...) et ses
refus reviennent dans l'enveloppe d'erreur OpenAI.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OpenAIBaseModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatCompletionRequest(OpenAIBaseModel):
    messages: list[dict[str, Any]] = Field(min_length=1)
    model: str = Field(min_length=1)
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None


class CompletionRequest(OpenAIBaseModel):
    model: str = Field(min_length=1)
    prompt: str | list[str] | list[int] | list[list[int]]
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
