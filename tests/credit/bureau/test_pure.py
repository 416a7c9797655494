"""relance.credit.bureau is pure: the adapters and the file reader load without Django."""

import subprocess
import sys


def test_the_bureau_package_imports_no_django():
    code = (
        "import sys; import relance.credit.bureau, relance.credit.bureau.creditsafe, relance.credit.bureau.dnb; "
        "print(sorted(name for name in sys.modules if name == 'django' or name.startswith('django.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
