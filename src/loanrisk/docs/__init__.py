"""The model card and the datasheet, rendered from the pipeline's reports (stage `document`).

Pure modules: reports, params and the declaration in, a :class:`~loanrisk.docs.document.Document`
out, rendered as Markdown and as self-contained HTML. Files are read and written by
`pipelines/document.py` only.
"""
