// What a page of the dashboard is: it fills the root element for the route's parameters, and
// stops its streams and timers when the signal aborts (the user went elsewhere).
export type Page = (root: HTMLElement, params: { id?: string; query: URLSearchParams }, signal: AbortSignal) => Promise<void>;
