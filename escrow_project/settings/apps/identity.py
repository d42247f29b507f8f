"""Settings of the identity app (environment-driven)."""

from datetime import timedelta

from escrow_project.settings.env import env_int

# Sign-in lockout (django-axes) on every form that authenticates: /escrow/login/, /admin/login/ and
# the API's token endpoint. Counted per username and client address together, so nobody can lock
# another person out from elsewhere; the address is REMOTE_ADDR (see TRUSTED_PROXIES).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "identity.lockout.lockout_response"
AXES_IPWARE_PROXY_COUNT = 0  # never read X-Forwarded-For itself, even if django-ipware is installed
AXES_CLIENT_IP_CALLABLE = "identity.lockout.client_address"
AXES_VERBOSE = False
