"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, another imprint) as a text model.

It has the same `generate` as LocalModel, so it can answer (`IMPRINT_ANSWER_URL`) or write training
data as the teacher (`IMPRINT_TEACHER=http://...`). Adapters are trained and served locally: a
remote model never gets one.
"""

from pathlib import Path

from ..errors import ModelError
from ..records import Generation


class RemoteModel:
    """Chat completions against `base_url` (the part ending in /v1), greedy unless asked otherwise."""

    instruct = False  # the prompt goes as one user message, as written for any model

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        api_key: str | None = None,
        context_limit: int = 8192,
        timeout: float = 300.0,
    ) -> None:
        from openai import OpenAI

        self.name = model
        self.base_url = base_url
        self.context_limit = context_limit
        # the client insists on a key; local servers ignore it
        self._client = OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=1)

    def count_tokens(self, text: str) -> int:
        """An estimate (4 characters a token): the server's tokenizer is not here."""
        return max(1, len(text) // 4)

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 48,
        stop: str = "\n",
        adapter: Path | None = None,
        temperature: float = 0.0,
    ) -> Generation:
        import openai

        if adapter is not None:
            raise ModelError("adapters are served by the local model only; a remote model has none")
        try:
            response = self._client.chat.completions.create(
                model=self.name,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_new_tokens,
                temperature=temperature,
                stop=[stop] if stop else None,
            )
        except openai.OpenAIError as error:
            raise ModelError(f"model server {self.base_url} failed: {error}") from error
        text = response.choices[0].message.content or ""
        if stop and stop in text:
            text = text[: text.index(stop)]
        usage = response.usage
        return Generation(
            text=text.strip(),
            prompt_tokens=usage.prompt_tokens if usage else self.count_tokens(prompt),
            new_tokens=usage.completion_tokens if usage else self.count_tokens(text),
        )
