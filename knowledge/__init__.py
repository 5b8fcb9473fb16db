"""Knowledge base: service documents, retrieval and embeddings."""
