import { attribute, Component, Directory, File } from "batou";

interface DatabaseInfo {
  host: string;
  port: number;
  name: string;
}

/** The application: needs the database, provides its backend address to the proxy. */
export class WebApp extends Component {
  port = attribute(Number, 8080);
  workers = attribute(Number, 2);
  db!: DatabaseInfo;

  override configure() {
    this.db = this.requireOne<DatabaseInfo>("database");
    this.add(new Directory("static"));
    this.add(new File("static/index.html", { content: "<h1>{{ host.fqdn }}</h1>\n" }));
    this.add(new File("app.json", { source: "app.json.j2" }));
    this.provide("backend", `${this.host.fqdn}:${this.port}`);
  }
}
