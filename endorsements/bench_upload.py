"""What the checks of issue 18 cost on a large file: the survey at upload (the uploader waits for
it) and the velocity breaker's count in the worker (before the first row is processed).

    DJANGO_SETTINGS_MODULE=escrow_project.settings.test python -m endorsements.bench_upload --rows 100000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.test")
    import django

    django.setup()
    from endorsements.files import file_survey
    from endorsements.models import Batch
    from endorsements.services.velocity import file_kind_counts

    header = "policy_number,kind,member_id,name,date_of_birth,relationship,plan,employee_member_id,effective_date\n"
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        handle.write(header)
        for i in range(args.rows):
            kind = "deletion" if i % 10 == 0 else "addition"
            handle.write(f"GP-1001,{kind},E-{i},Person {i},1990-01-01,employee,BASIC,,2026-03-01\n")
    try:
        size = os.path.getsize(handle.name) / 1e6
        started = time.perf_counter()
        rows = file_survey(handle.name, "csv")
        survey = time.perf_counter() - started
        started = time.perf_counter()
        counts = file_kind_counts(Batch(file_path=handle.name, file_format="csv"))
        count = time.perf_counter() - started
    finally:
        os.unlink(handle.name)
    print(f"file: {rows} rows, {size:.1f} MB CSV")
    print(f"survey at upload (encoding, header, row count)  {survey:6.2f} s")
    print(f"breaker's count of kinds ({dict(counts)})  {count:6.2f} s")


if __name__ == "__main__":
    main()
