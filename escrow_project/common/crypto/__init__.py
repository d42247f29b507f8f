"""Field-level encryption kernel: AES-GCM fields with key ids, key providers and blind indexes."""
