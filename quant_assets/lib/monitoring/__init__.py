"""Operations: failure reasons, alert webhooks, system (GPU/writer) sampling."""
