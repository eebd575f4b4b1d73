// The small part of anywidget's and ipywidgets' front-end API the painter uses, typed for the
// JSDoc check (`npm run check`); at run time anywidget supplies the real objects.
import type { ToolName } from "./protocol.js";

export interface Listener {
  (...args: any[]): void;
}

export interface WidgetModel {
  get(key: string): unknown;
  once(event: string, fn: Listener): void;
}

export interface WidgetView {
  el: HTMLElement;
  model: WidgetModel;
  remove(): void;
}

export interface WidgetManager {
  get_model(id: string): Promise<WidgetModel>;
  create_view(model: WidgetModel): Promise<WidgetView>;
}

/** anywidget's model: the synced traits of one widget, by name. */
export interface Model<S> {
  get<K extends keyof S>(key: K): S[K];
  set<K extends keyof S>(key: K, value: S[K]): void;
  save_changes(): void;
  send(msg: object, callbacks?: object, buffers?: ArrayBuffer[]): void;
  on(event: string, fn: Listener): void;
  off(event?: string, fn?: Listener): void;
  widget_manager: WidgetManager;
}

/** The traits of `_Surface` in _painter.py. */
export interface SurfaceState {
  canvas: string;
  view_size: [number, number];
  tool: ToolName;
  brush_size: number;
  hardness: number;
  color: string;
  opacity: number;
  label: string;
}

/** The traits of `_MaskFile` in _painter.py. */
export interface MaskFileState {
  max_bytes: number;
}

export interface RenderArgs<S> {
  model: Model<S>;
  el: HTMLElement;
}
