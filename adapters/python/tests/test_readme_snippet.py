"""Runs the Python snippet of the repository README (the fenced block after the marker
`<!-- readme-test: python -->`) from the repository root, as a user would."""

import os
import re
import subprocess
import sys
import unittest

from adapter_test_support import REPO_ROOT, requires_numpy

MARKER = "<!-- readme-test: python -->"


def readme_snippet():
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    at = text.find(MARKER)
    if at < 0:
        raise AssertionError("README.md has no %r marker" % MARKER)
    m = re.compile(r"\s*```python\n(.*?)\n```", re.S).match(text, at + len(MARKER))
    if m is None:
        raise AssertionError("no ```python block right after %r in README.md" % MARKER)
    return m.group(1)


class ReadmeSnippetTest(unittest.TestCase):
    def test_snippet_is_real(self):
        code = readme_snippet()
        self.assertNotIn("placeholder", code)
        self.assertIn("import milo", code)
        self.assertTrue(10 <= len(code.splitlines()) <= 25, "keep the snippet short")

    @requires_numpy
    def test_snippet_runs(self):
        code = readme_snippet()
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(
            sys.modules["milo"].__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            [package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        run = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(run.returncode, 0, "README snippet failed:\n" + run.stderr)
        out = run.stdout
        self.assertIn("safetensors safetensors.StateDict", out)
        self.assertIn("'model': 'iris-mlp'", out)
        self.assertIn("float32 (8, 4)", out)
        self.assertIn("5 MILO_ERR_NOT_FOUND no/such/model.safetensors", out)


if __name__ == "__main__":
    unittest.main()
