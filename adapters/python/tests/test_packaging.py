"""The package outside the source tree: pip-installed into a target folder, the library lookup
order (MILO_LIBRARY, then <repo>/build/lib), and running without numpy."""

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import unittest

import milo

from adapter_test_support import IRIS, IRIS_EXPECTED, TempDirTestCase

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(milo.__file__)))


def run_python(code, env_overrides, cwd, drop=("PYTHONPATH", "MILO_LIBRARY")):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def copy_package(dst):
    shutil.copytree(PACKAGE_ROOT, dst, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info", "tests", "CMakeLists.txt"))


class InstalledPackageTest(TempDirTestCase):
    def test_pip_install_target(self):
        for module in ("pip", "setuptools"):
            if importlib.util.find_spec(module) is None:
                self.skipTest("%s is not installed for %s" % (module, sys.executable))
        # (not imported here: importing setuptools patches distutils in this process)
        version = importlib.metadata.version("setuptools")
        major_minor = tuple(int(x) for x in version.split(".")[:2])
        if major_minor < (70, 1) and importlib.util.find_spec("wheel") is None:
            self.skipTest("setuptools %s needs the 'wheel' package to build offline "
                          "(--no-build-isolation), and %s has none" % (version, sys.executable))
        # Build from a copy so pip's in-tree build files never land in the source tree.
        src = self.path("src")
        copy_package(src)
        site = self.path("site")
        env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
               "PIP_CACHE_DIR": self.path("pip-cache")}
        env.update({k: v for k, v in os.environ.items() if k in ("TMPDIR", "HOME", "PATH")})
        run = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
             "--no-index", "--target", site, src],
            env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(run.returncode, 0, "pip install failed:\n%s\n%s"
                         % (run.stdout, run.stderr))
        self.assertTrue(os.path.isfile(os.path.join(site, "milo", "__init__.py")))
        self.assertTrue(os.path.isfile(os.path.join(site, "milo", "_capi.py")))
        self.assertFalse(os.path.exists(os.path.join(site, "tests")))
        run = run_python("""
            import os, sys, milo
            assert milo.__file__.startswith(os.environ["SITE"]), milo.__file__
            reg = milo.Registry()
            doc = reg.open(os.environ["IRIS"])
            print(milo.version(), "safetensors" in [t.id for t in reg.transporters()],
                  doc.root.state["classes"].data().tobytes().hex())
            """, {"PYTHONPATH": site, "MILO_LIBRARY": milo.library_path, "SITE": site,
                  "IRIS": IRIS}, cwd=self.tmp)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("True 000000000000000001000000000000000200000000000000",
                      run.stdout)


class LibraryLookupTest(TempDirTestCase):
    def test_build_tree_beside_the_package(self):
        # <repo>/adapters/python/milo finds <repo>/build/lib/libmilo.so without MILO_LIBRARY.
        repo = self.path("repo")
        copy_package(os.path.join(repo, "adapters", "python"))
        lib_dir = os.path.join(repo, "build", "lib")
        os.makedirs(lib_dir)
        os.symlink(os.path.realpath(milo.library_path), os.path.join(lib_dir, "libmilo.so"))
        run = run_python("import milo; print(milo.library_path); print(milo.version())",
                         {"PYTHONPATH": os.path.join(repo, "adapters", "python")},
                         cwd=self.tmp)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout.splitlines(),
                         [os.path.join(lib_dir, "libmilo.so"), milo.version()])

    def test_bad_milo_library_is_a_clear_import_error(self):
        missing = self.path("libmilo_missing.so")
        run = run_python("import milo", {"PYTHONPATH": PACKAGE_ROOT, "MILO_LIBRARY": missing},
                         cwd=self.tmp)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("ImportError", run.stderr)
        self.assertIn("MILO_LIBRARY", run.stderr)
        self.assertIn(missing, run.stderr)


class WithoutNumpyTest(TempDirTestCase):
    def test_core_api_without_numpy(self):
        run = run_python("""
            import json, os, sys
            sys.modules["numpy"] = None  # import numpy now raises ImportError
            import milo
            reg = milo.Registry()
            state = reg.open(os.environ["IRIS"]).root.state
            with open(os.environ["IRIS_EXPECTED"]) as f:
                expected = json.load(f)
            for t in expected["tensors"]:
                assert state[t["name"]].data().tobytes().hex() == t["hex"], t["name"]
            try:
                state["fc1.weight"].array()
            except ImportError as e:
                assert "numpy" in str(e)
            else:
                raise AssertionError("array() without numpy")
            py = state.to_python()
            w = py["fc1.weight"]
            assert isinstance(w, memoryview) and w.format == "f" and w.shape == (8, 4), w
            assert py["classes"].tolist() == [0, 1, 2]
            assert py["num_batches_tracked"].tolist() == 150
            assert py["input_scale"].format == "B"  # float16 has no memoryview code: raw bytes
            d = milo.Document()
            d.root = {"a": [1, 2.5, "x", None, b"b"], "t": (1,)}
            s = d.tensor("string", [2, 2])
            s.set_item(3, "z")
            o = d.tensor("object", [2])
            o.set_item(1, [1])
            d.root["s"] = s
            d.root["o"] = o
            back = reg.decode(reg.encode(d, format="yaml"))
            assert back == d
            assert back.root.to_python()["s"] == [["", ""], ["", "z"]]
            assert back.root.to_python()["o"] == [None, [1]]
            print("no-numpy ok")
            """, {"PYTHONPATH": PACKAGE_ROOT, "MILO_LIBRARY": milo.library_path, "IRIS": IRIS,
                  "IRIS_EXPECTED": IRIS_EXPECTED}, cwd=self.tmp)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("no-numpy ok", run.stdout)


if __name__ == "__main__":
    unittest.main()
