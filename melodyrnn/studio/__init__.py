"""`melodyrnn studio`: a local web page that writes, shows and plays tunes.

`request` turns the page's form into the model's generate arguments, field by field, so a bad
value is refused with the sentence the command line gives and the name of its control;
`tunes` keeps the tunes written since the studio started, in a folder the server owns, under
ids it makes; `app` is the Starlette application, and `static/` the page (HTML, JS and CSS,
nothing from the network).
"""
