"""The pure core: request building, response decoding and error mapping. No I/O."""
