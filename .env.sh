export DJANGO_SETTINGS_MODULE=escrow_project.settings.test
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/escrow_wt19c
export REDIS_URL=redis://127.0.0.1:6379/9
