import { Component, File } from "batou";

/** A reverse proxy in front of every web app backend of the environment. */
export class Proxy extends Component {
  backends: string[] = [];

  override configure() {
    this.backends = this.require<string>("backend").sort();
    this.add(new File("proxy.conf", { source: "proxy.conf.j2" }));
  }
}
