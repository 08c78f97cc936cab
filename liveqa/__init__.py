"""LiveQA: live Q&A for livestreamed dialogues."""

__version__ = "0.1.0"
