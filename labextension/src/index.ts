/**
 * hal-jupyter's JupyterLab extension: the "HAL Jobs" panel in the left
 * sidebar, and a notification when a job created during this session
 * completes or fails.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { HalApi } from './api';
import { JobsModel } from './jobs';
import { JobsPanel, PANEL_ID } from './panel';

const OPEN = 'hal-jupyter:open-jobs';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="none" stroke="#616161" stroke-width="1.6">
    <ellipse cx="12" cy="12" rx="10" ry="4"/>
    <ellipse cx="12" cy="12" rx="10" ry="4" transform="rotate(60 12 12)"/>
    <ellipse cx="12" cy="12" rx="10" ry="4" transform="rotate(120 12 12)"/>
  </g>
  <circle class="jp-icon3" cx="12" cy="12" r="2" fill="#616161"/>
</svg>`;

export const halIcon = new LabIcon({ name: 'hal-jupyter:jobs', svgstr: ICON_SVG });

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'hal-jupyter:jobs-panel',
  description: 'The HAL Jobs panel: your quantum and classical jobs, live.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null, palette: ICommandPalette | null) => {
    const model = new JobsModel(new HalApi(app.serviceManager.serverSettings));
    const panel = new JobsPanel(model);
    panel.title.icon = halIcon;
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(OPEN, {
      label: 'Show HAL Jobs',
      caption: 'Open the HAL Jobs panel',
      execute: args => {
        app.shell.activateById(PANEL_ID);
        if (typeof args.id === 'string') {
          panel.select(args.id);
        }
      }
    });
    palette?.addItem({ command: OPEN, category: 'HAL' });

    model.ended.connect((_, ended) => {
      const actions = [{ label: 'Show', callback: () => void app.commands.execute(OPEN, { id: ended.id }) }];
      if (ended.status === 'COMPLETED') {
        Notification.success(ended.message, { autoClose: 6000, actions });
      } else {
        Notification.error(ended.message, { autoClose: 12000, actions });
      }
    });
    model.start().catch(error => console.error('hal-jupyter: the HAL Jobs panel could not start', error));
  }
};

export default plugin;
