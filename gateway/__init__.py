"""The gateway: the only public entry. Routes /api/v1/<service>/… to the services, streaming both ways."""
