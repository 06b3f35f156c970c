"""The batch job: embeddings, FAISS and BM25 indexes, clusters, and the artefact directory."""
