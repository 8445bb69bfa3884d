"""A show's effects: a chain per dreamer that has effects, the master chain, and the
images their other inputs read (layers, the merge, files named in the set).

The show calls :meth:`ShowEffects.apply_layers` after drawing the layers and
:meth:`ShowEffects.apply_master` after the merge, before the overlay. Layers that
effects read are copied (upright, 2D) before any chain runs, so each is read as drawn,
before its own effects; the merge is kept upright for the dreamers' next frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import moderngl
import numpy as np

from engine.folders import SHADER_DIR
from engine.fx_spec import FxSpec, is_named_source
from engine.params import ParamSpace
from engine.visuals.dialect_base import DrawFrame, image_texture, load_image
from engine.visuals.effects import Copier, EffectChain, EffectError
from engine.visuals.layers import LayerStack
from engine.visuals.merge import Merge
from engine.visuals.shaders import ShaderError


class ShowEffects:
    """Every chain of a show: one per dreamer that has effects, and the master chain.

    The show calls :meth:`apply_layers` after drawing the layers and :meth:`apply_master`
    after the merge, before the overlay."""

    def __init__(
        self,
        ctx: moderngl.Context,
        params: ParamSpace,
        *,
        layer_size: tuple[int, int],
        size: tuple[int, int],
        dreamers: Sequence[tuple[str, int, Sequence[FxSpec]]],  # (path, layer, effects)
        master: Sequence[FxSpec] = (),
        shader_dir: Path = SHADER_DIR,
        set_dir: Path = Path("."),
        layer_count: int = 1,
    ) -> None:
        self.ctx, self.params = ctx, params
        self.layer_size, self.size = layer_size, size
        self.layer_chains: dict[int, tuple[str, EffectChain]] = {}
        self.master: EffectChain | None = None
        self._files: dict[str, moderngl.Texture] = {}
        self._layer_copies: dict[int, moderngl.Texture] = {}
        self._layer_fbos: dict[int, moderngl.Framebuffer] = {}
        self._merge_copy: tuple[moderngl.Texture, moderngl.Framebuffer] | None = None
        self._copier: Copier | None = None  # made when first needed: a show without effects
        # sources read by others than effects (Shadertoy channels: merge, dreamer/N)
        self.wanted: Callable[[], set[str]] = set
        try:
            for path, layer, specs in dreamers:
                if specs:
                    chain = self._chain(layer_size, path, specs, shader_dir, set_dir, layer_count)
                    self.layer_chains[layer] = (path, chain)
            if master:
                self.master = self._chain(size, "/master", master, shader_dir, set_dir, layer_count)
        except BaseException:
            self.release()
            raise

    def _chain(
        self,
        size: tuple[int, int],
        base: str,
        specs: Sequence[FxSpec],
        shader_dir: Path,
        set_dir: Path,
        layer_count: int,
    ) -> EffectChain:
        for spec in specs:
            for name, source in spec.images.items():
                where = f"{spec.where}.images.{name}"
                if source.startswith("dreamer/") and is_named_source(source):
                    if not 1 <= int(source.split("/")[1]) <= layer_count:
                        raise EffectError(where, f"no {source}: dreamers are 1..{layer_count}")
                elif not is_named_source(source) and source not in self._files:
                    file = (set_dir / source).resolve()
                    try:
                        self._files[source] = image_texture(self.ctx, load_image(file))
                    except (OSError, ValueError) as exc:
                        raise EffectError(where, f"cannot read image {file}: {exc}") from None
        try:
            return EffectChain(self.ctx, size, base, specs, self.params, shader_dir)
        except ShaderError as exc:
            where = next((s.where for s in specs if exc.path.stem == s.shader), "fx")
            raise EffectError(where, str(exc)) from None

    # which files
    def uses(self, path: Path) -> bool:
        return any(path.resolve() in c.paths for c in self.chains())

    def chains(self) -> list[EffectChain]:
        return [c for _, c in self.layer_chains.values()] + ([self.master] if self.master else [])

    def reload(self, path: Path) -> list[ShaderError]:
        return [err for c in self.chains() for err in c.reload(path)]

    # drawing
    def _needs(self, source: str) -> bool:
        if source in self.wanted():
            return True
        return any(source in e.images.values() for c in self.chains() for e in c.effects)

    def image(self, source: str) -> moderngl.Texture | None:
        """The copy of `source` (merge, dreamer/N) as last made, if one is kept."""
        return self._image(source, -1)

    def apply_layers(self, layers: LayerStack, frame: DrawFrame, rows: np.ndarray) -> None:
        """Each dreamer's chain, over its layer in `layers` (a LayerStack). Layers other
        effects read are copied first, so each reads them as drawn, before effects."""
        if not self.layer_chains and not any(w.startswith("dreamer/") for w in self.wanted()):
            return
        for n in range(layers.count):  # layer n is dreamer n + 1
            if self._needs(f"dreamer/{n + 1}") or (n in self.layer_chains and self._needs("layer")):
                self._copy_layer(layers, n)
        for layer, (_, chain) in self.layer_chains.items():
            chain.render(
                frame,
                layers.fbo,
                layer,
                layers=layers.texture,
                from_layer=layer,
                dreamer_row=rows[layer],
                image=self._images_for(layer),
            )

    def apply_master(self, merge: Merge, frame: DrawFrame) -> None:
        """The master chain over the merged frame (merge.fbo, top row first)."""
        self._keep_merge(merge)
        if self.master is not None:
            self.master.render(
                frame,
                merge.fbo,
                0,
                src=merge.output,
                flip=True,
                image=self._images_for(-1),
            )

    def _images_for(self, own: int) -> Callable[[str], moderngl.Texture | None]:
        return lambda source: self._image(source, own)

    def _image(self, source: str, own: int) -> moderngl.Texture | None:
        if source == "layer":
            return self._layer_copies.get(own)
        if source == "merge":
            return self._merge_copy[0] if self._merge_copy else None
        if source.startswith("dreamer/") and is_named_source(source):
            return self._layer_copies.get(int(source.split("/")[1]) - 1)
        return self._files.get(source)

    def _copy_layer(self, layers: LayerStack, n: int) -> None:
        if n not in self._layer_copies:
            tex = self.ctx.texture(self.layer_size, 4)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._layer_copies[n] = tex
            self._layer_fbos[n] = self.ctx.framebuffer(color_attachments=[tex])
        self.copier().copy(
            self._layer_fbos[n], 0, self.layer_size, layers=layers.texture, from_layer=n
        )

    def _keep_merge(self, merge: Merge) -> None:
        """An upright copy of the merged frame, for effects that read `merge`."""
        if not self._needs("merge"):
            return
        if self._merge_copy is None:
            tex = self.ctx.texture(self.size, 4)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._merge_copy = (tex, self.ctx.framebuffer(color_attachments=[tex]))
        self.copier().copy(self._merge_copy[1], 0, self.size, src=merge.output, flip=True)

    def copier(self) -> Copier:
        if self._copier is None:
            self._copier = Copier(self.ctx)
        return self._copier

    def release(self) -> None:
        for c in self.chains():
            c.release()
        self.layer_chains, self.master = {}, None
        for tex in (*self._files.values(), *self._layer_copies.values()):
            tex.release()
        for fbo in self._layer_fbos.values():
            fbo.release()
        if self._merge_copy is not None:
            for obj in self._merge_copy[::-1]:
                obj.release()
        self._files, self._layer_copies, self._layer_fbos, self._merge_copy = {}, {}, {}, None
        if self._copier is not None:
            self._copier.release()
            self._copier = None
