"""Clinical text: one medspaCy pipeline per worker (sentences, sections, target concepts, ConText)."""
