import { useState } from "react";

export default function App() {
	const [count, setCount] = useState(0);
	return (
		<main>
			<h1>molt react-nginx</h1>
			<p>Built with yarn and esbuild in a builder stage; served by nginx.</p>
			<button onClick={() => setCount(count + 1)}>clicked {count} times</button>
		</main>
	);
}
