"""Pure rules of LiveQA: questions, moderation, text, event state. No I/O here."""
