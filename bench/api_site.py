"""Settings of the site the API benchmark serves: reviewhub plus two bare views (bench/api_urls.py).

Used only by bench/api.py, through DJANGO_SETTINGS_MODULE=bench.api_site.
"""

from reviewhub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_urls"
