"""The Mini App: a map of vending spots, no-vending zones and open cases, served by the bot's HTTP server.

init_data (Telegram's signature on the page), geojson (the API's answers), strings (the page's words from the
catalogs), routes (the tornado handlers), static/ (the page and the Leaflet copy made by scripts/vendor_leaflet.sh).
"""
